// Standard normal noise on the GPU, bit for bit the stream of FastIF.Sampling.PhiloxNoise (its CPU twin): Philox4x32-10
// keyed by the seed with counter (block, draw), then Box-Muller in NoiseMath's arithmetic (philox.cuh).
#include "philox.cuh"

// dst[0..n) = draw `draw` of the stream of `seed`: one Philox block of 4 values per thread iteration.
extern "C" __global__ void fastif_philox_normal(unsigned long long seed, unsigned long long draw, float* __restrict__ dst, fastif_index n) {
    fastif_index blocks = (n + 3) / 4;
    FASTIF_FOR_EACH(blk, blocks) {
        unsigned int r[4];
        fastif_philox(seed, draw, (unsigned long long)blk, r);
        fastif_index i = blk * 4;
        for (int j = 0; j < 4 && i + j < n; j += 2) {
            float a, b;
            fastif_box_muller(r[j], r[j + 1], &a, &b);
            dst[i + j] = a;
            if (i + j + 1 < n) dst[i + j + 1] = b;
        }
    }
}
