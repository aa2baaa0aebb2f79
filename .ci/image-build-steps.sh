#!/usr/bin/env bash
# Runs the Dockerfile's build commands outside Docker and checks what the
# final image needs from the binary. CI has no Docker daemon; this proves
# the builder stage's commands work on the pinned toolchain.
#
#   .ci/image-build-steps.sh           build, then check the binary
#   .ci/image-build-steps.sh --check   only check that the Dockerfile still
#                                      runs the commands listed here
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The builder stage's commands, in order (keep in step with the Dockerfile).
steps=(
  "rustup target add wasm32-wasip2"
  "cargo build --release --locked -p rotor"
)

check_dockerfile() {
  local step
  for step in "${steps[@]}"; do
    if ! grep -qF -- "$step" Dockerfile; then
      echo "image-build-steps: the Dockerfile no longer runs \`$step\`; update .ci/image-build-steps.sh with it" >&2
      return 1
    fi
  done
  grep -qE '^FROM gcr\.io/distroless/cc-debian12:nonroot' Dockerfile \
    || { echo "image-build-steps: final stage is not distroless/cc; revisit the library check below" >&2; return 1; }
  grep -qE '^USER 65532:65532$' Dockerfile \
    || { echo "image-build-steps: the image must run as numeric user 65532" >&2; return 1; }
  echo "image-build-steps: Dockerfile runs ${#steps[@]} listed build steps, distroless/cc, USER 65532"
}

check_binary() {
  local bin=target/release/rotor
  [[ -x "$bin" ]] || { echo "image-build-steps: $bin was not built" >&2; return 1; }
  # distroless/cc carries glibc and libgcc only: anything else would be
  # missing at run time.
  local libs unexpected
  libs="$(ldd "$bin" | awk '{print $1}')"
  unexpected="$(grep -vE '^(linux-vdso\.so|/lib64/ld-linux-x86-64\.so|/lib/ld-linux-aarch64\.so|libc\.so|libm\.so|libgcc_s\.so|libdl\.so|libpthread\.so|librt\.so|libutil\.so)' <<<"$libs" || true)"
  if [[ -n "$unexpected" ]]; then
    echo "image-build-steps: rotor links libraries distroless/cc lacks:" >&2
    echo "$unexpected" >&2
    return 1
  fi
  "$bin" --help >/dev/null
  echo "image-build-steps: $bin ($(du -h "$bin" | cut -f1)) links only glibc/libgcc and runs"
}

check_dockerfile
if [[ "${1:-}" == "--check" ]]; then
  exit 0
fi
for step in "${steps[@]}"; do
  echo "image-build-steps: $step" >&2
  $step
done
check_binary
