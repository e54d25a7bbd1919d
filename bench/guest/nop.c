/* The empty workload: start.S's entry and exit around nothing. The bench times QEMU on it to
   subtract QEMU's startup from its time on the real workloads (cpu.ratio.qemu). */
int main(void) { return 0; }
