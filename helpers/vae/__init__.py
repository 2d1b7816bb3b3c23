"""The variational autoencoder of Tasks 3 and 4 (Keras 3, ``keras.ops`` only): the model, its training
with model selection on a validation set (cached), and the use of a trained one."""
