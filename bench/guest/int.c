/* The integer workload of `npm run bench` (cpu.mips): loads, stores, branches, ALU, multiply,
   calls and recursion, in the proportions ordinary C code has them. Deterministic; the result
   is checked so that nothing is optimized away. Returns 0 when the checksum (also left in `result`) is right, else 2 + checksum % 251. */
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned char u8;

#define N 4096
static u32 arr[N];
static u8 sieve[32768];
static u32 mat_a[32][32], mat_b[32][32], mat_c[32][32];
struct node { struct node *next; u32 v; };
static struct node nodes[2048];

static u32 seed = 12345;
static u32 rnd(void) { seed = seed * 1103515245u + 12345u; return seed >> 8; }

static void qsort_u32(u32 *a, long lo, long hi) {
  while (lo < hi) {
    u32 p = a[(lo + hi) / 2];
    long i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { u32 t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { qsort_u32(a, lo, j); lo = i; } else { qsort_u32(a, i, hi); hi = j; }
  }
}

static u32 crc32(const u8 *p, long n) {
  u32 c = 0xffffffffu;
  for (long i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
  }
  return ~c;
}

static u32 count_primes(void) {
  long n = sizeof sieve, count = 0;
  for (long i = 0; i < n; i++) sieve[i] = 1;
  for (long i = 2; i * i < n; i++)
    if (sieve[i]) for (long j = i * i; j < n; j += i) sieve[j] = 0;
  for (long i = 2; i < n; i++) count += sieve[i];
  return (u32)count;
}

static u32 matmul(void) {
  for (int i = 0; i < 32; i++) for (int j = 0; j < 32; j++) { mat_a[i][j] = rnd() & 0xff; mat_b[i][j] = rnd() & 0xff; }
  for (int i = 0; i < 32; i++)
    for (int j = 0; j < 32; j++) {
      u32 s = 0;
      for (int k = 0; k < 32; k++) s += mat_a[i][k] * mat_b[k][j];
      mat_c[i][j] = s;
    }
  u32 h = 0;
  for (int i = 0; i < 32; i++) for (int j = 0; j < 32; j++) h = h * 31 + mat_c[i][j];
  return h;
}

static u32 walk(void) {
  for (int i = 0; i < 2048; i++) { nodes[i].v = i; nodes[i].next = &nodes[(i * 1031 + 7) & 2047]; }
  struct node *p = &nodes[0];
  u32 s = 0;
  for (int i = 0; i < 20000; i++) { s += p->v; p = p->next; }
  return s;
}

static u64 fib(u32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static u32 strings(void) {
  static char buf[4096];
  for (int i = 0; i < 4095; i++) buf[i] = 'a' + (rnd() % 26);
  buf[4095] = 0;
  u32 h = 5381;
  for (const char *p = buf; *p; p++) h = h * 33 + (u8)*p;
  long vowels = 0;
  for (int i = 0; i < 4095; i++) switch (buf[i]) { case 'a': case 'e': case 'i': case 'o': case 'u': vowels++; }
  return h ^ (u32)vowels;
}

u32 result;

int main(void) {
  u32 check = 0;
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < N; i++) arr[i] = rnd();
    qsort_u32(arr, 0, N - 1);
    for (int i = 1; i < N; i++) if (arr[i - 1] > arr[i]) return 2;
    check += crc32((const u8 *)arr, sizeof arr / 4);
    check += count_primes();
    check += matmul();
    check += walk();
    check += (u32)fib(18);
    check += strings();
  }
  result = check;
  return check == EXPECTED ? 0 : (int)(check % 251) + 2;
}
