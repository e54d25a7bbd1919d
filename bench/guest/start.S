/* Bare-metal entry for the bench workloads: a stack, main(), then the exit code to the
   sifive,test device at 0x100000 (QEMU virt and emuhost's bench machine both have one). */
  .section .text.start
  .globl _start
_start:
  la sp, stack_top
  li t0, 0x6000        /* mstatus.FS = Dirty: the FP workload needs the FPU on */
  csrs mstatus, t0
  call main
  li t0, 0x100000
  beqz a0, 1f
  slli a0, a0, 16
  li t1, 0x3333
  or a0, a0, t1
  sw a0, 0(t0)
  j .
1:
  li t1, 0x5555
  sw t1, 0(t0)
  j .
  .bss
  .balign 16
  .space 65536
stack_top:
