global using Tensor = FastIF.Tensors.Tensor;
