//! Calls `clock.now` N times (N is the whole config string, default 0), so
//! a benchmark can time one host call round trip as the difference between
//! two runs divided by the difference in N.

use rotor_sdk::{Error, KeyValue, Policy, Summary};

struct CallLoop;

impl Policy for CallLoop {
    fn run(config: String) -> Result<Summary, Error> {
        let calls: u64 = config.trim().parse().unwrap_or(0);
        // Summing keeps every call observable, so none can be optimised away.
        let mut sum: i64 = 0;
        for _ in 0..calls {
            sum = sum.wrapping_add(rotor_sdk::clock::now());
        }
        Ok(Summary {
            message: format!("{calls} clock.now calls"),
            facts: vec![
                KeyValue {
                    key: "calls".into(),
                    value: calls.to_string(),
                },
                KeyValue {
                    key: "sum".into(),
                    value: sum.to_string(),
                },
            ],
        })
    }
}

rotor_sdk::export_policy!(CallLoop);
