/* The floating-point workload of `npm run bench` (cpu.mips.fp): an n-body step, a dense
   matrix multiply, a Newton square root and a polynomial, in double and float, with the
   adds, multiplies, fused multiply-adds, divides, square roots and conversions such code
   has. Returns 0 when the checksum (also left in `result`) is right, else 2 + checksum % 251. */
typedef unsigned long u64;
#define NB 5
static double px[NB], py[NB], pz[NB], vx[NB], vy[NB], vz[NB], m[NB];
static double a[24][24], b[24][24], c[24][24];
static float fa[64], fb[64];

static double dsqrt(double x) { double r; __asm__("fsqrt.d %0, %1" : "=f"(r) : "f"(x)); return r; }

static void nbody(int steps) {
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < NB; i++)
      for (int j = i + 1; j < NB; j++) {
        double dx = px[i] - px[j], dy = py[i] - py[j], dz = pz[i] - pz[j];
        double d2 = dx * dx + dy * dy + dz * dz;
        double mag = 0.01 / (d2 * dsqrt(d2));
        vx[i] -= dx * m[j] * mag; vy[i] -= dy * m[j] * mag; vz[i] -= dz * m[j] * mag;
        vx[j] += dx * m[i] * mag; vy[j] += dy * m[i] * mag; vz[j] += dz * m[i] * mag;
      }
    for (int i = 0; i < NB; i++) { px[i] += 0.01 * vx[i]; py[i] += 0.01 * vy[i]; pz[i] += 0.01 * vz[i]; }
  }
}

u64 result;

int main(void) {
  u64 check = 0;
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < NB; i++) { px[i] = i; py[i] = i * 0.5; pz[i] = -i; vx[i] = vy[i] = vz[i] = 0; m[i] = 1.0 + i; }
    nbody(200);
    double e = 0;
    for (int i = 0; i < NB; i++) e += m[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i]);
    for (int i = 0; i < 24; i++) for (int j = 0; j < 24; j++) { a[i][j] = (i + j) / 7.0; b[i][j] = (i - j) / 3.0; }
    for (int i = 0; i < 24; i++)
      for (int j = 0; j < 24; j++) { double s = 0; for (int k = 0; k < 24; k++) s += a[i][k] * b[k][j]; c[i][j] = s; }
    for (int i = 0; i < 24; i++) e += c[i][i];
    for (int i = 0; i < 64; i++) { fa[i] = i * 0.25f; fb[i] = 1.0f / (i + 1); }
    float fs = 0;
    for (int i = 0; i < 64; i++) fs += fa[i] * fb[i] + fa[i] / (fb[i] + 2.0f);
    double p = 0;
    for (int i = 0; i < 500; i++) { double x = i / 500.0; p += ((2.0 * x - 3.0) * x + 1.5) * x - 0.25; }
    check += (u64)(e * 1000.0) + (u64)(fs * 100.0f) + (u64)(long)(p * 10.0);
  }
  result = check;
  return check == EXPECTED ? 0 : (int)(check % 251) + 2;
}
