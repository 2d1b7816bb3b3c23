"""Task 4: the VAE as a density of positions in the MI building, baseline densities, the critical
number for the main entrance, and a crowd simulation started from sampled people."""
