//! The worlds that share one virtual clock: the one cluster of an ordinary
//! scenario, or every cluster of a multicluster one. Time moves for all of
//! them together, event by event in time order, so what one cluster does
//! lands in order with what the others do, and pairs across clusters are
//! judged at every step.

use std::ops::{Deref, DerefMut};
use std::sync::MutexGuard;

use super::multicluster::cross::CrossOutage;
use super::world::World;

#[derive(Debug)]
pub struct Fleet {
    pub worlds: Vec<World>,
    pub cross: CrossOutage,
}

impl Fleet {
    pub fn single(world: World) -> Fleet {
        Fleet {
            worlds: vec![world],
            cross: CrossOutage::default(),
        }
    }

    /// The shared clock (every world holds the same time).
    pub fn now(&self) -> i64 {
        self.worlds[0].now
    }

    /// The earliest event of any world.
    pub fn next_event_time(&self) -> Option<i64> {
        self.worlds.iter().filter_map(World::next_event_time).min()
    }

    /// Run every world's events up to `target` in time order, then set
    /// every clock there.
    pub fn advance_to(&mut self, target: i64) {
        if let [world] = self.worlds.as_mut_slice()
            && self.cross.is_empty()
        {
            world.advance_to(target);
            return;
        }
        // A mutation since the last step may have changed trust already.
        let now = self.now();
        self.cross.evaluate(&self.worlds, now);
        while let Some(t) = self.next_event_time().filter(|&t| t <= target) {
            self.step(t);
        }
        self.step(target.max(self.now()));
    }

    /// Run what is due now in every world without moving the clock.
    pub fn settle(&mut self) {
        self.advance_to(self.now());
    }

    fn step(&mut self, t: i64) {
        let now = self.now();
        self.cross.elapse(now, t);
        for w in &mut self.worlds {
            w.advance_to(t);
        }
        self.cross.evaluate(&self.worlds, t);
    }
}

/// One world of a locked fleet: a cluster's primitives work on their own
/// world, and move time through the fleet.
pub struct WorldGuard<'a> {
    pub fleet: MutexGuard<'a, Fleet>,
    pub index: usize,
}

impl Deref for WorldGuard<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        &self.fleet.worlds[self.index]
    }
}

impl DerefMut for WorldGuard<'_> {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.fleet.worlds[self.index]
    }
}
