"""The benchmark suite behind `bench/run`: servers, data, load generation, targets."""
