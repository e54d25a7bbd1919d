#!/bin/sh
# Builds the bench workloads (int.elf, fp.elf) with Debian's riscv64 cross compiler
# (apt-get install gcc-riscv64-linux-gnu). The ELFs are committed: the bench does not need
# the compiler. EXPECTED is the checksum the workload computes; a build with EXPECTED=0 prints
# it when run under QEMU (exit code 1 means "wrong checksum": run it, read the value, rebuild).
set -eu
cd "$(dirname "$0")"
CC=${CC:-riscv64-linux-gnu-gcc}
FLAGS="-O2 -march=rv64gc -mabi=lp64d -mcmodel=medany -static -nostdlib -ffreestanding -fno-pic -fno-builtin -Wl,--build-id=none -T link.ld"
$CC $FLAGS -DROUNDS=${INT_ROUNDS:-40} -DEXPECTED=${INT_EXPECTED:-0}u -o int.elf start.S int.c
$CC $FLAGS -DROUNDS=${FP_ROUNDS:-40} -DEXPECTED=${FP_EXPECTED:-0}ul -o fp.elf start.S fp.c
