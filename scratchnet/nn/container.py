"""Sequential: modules applied in order; backward applies their backwards in reverse."""

from scratchnet.nn.module import Module


class Sequential(Module):
    """y = f_k(... f_1(x));   backward runs the chain rule from f_k down to f_1.

    Children are named "0", "1", ... so state_dict keys match torch's (``net.0.weight``).
    """

    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential expects Module arguments, got {type(module).__name__} at position {index}")
            self._modules[str(index)] = module

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def backward(self, grad_output):
        for module in reversed(self._modules.values()):
            grad_output = module.backward(grad_output)
        return grad_output
