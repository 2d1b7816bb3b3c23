"""Task 3: the VAE study on MNIST: the data splits, the models trained and what the report states of
them, a digit classifier that judges generated digits, and the decoder's latent manifold."""
