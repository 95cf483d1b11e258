"""`python -m minigrad`: the smallest demo. Build a graph, run backward, print every gradient."""
import minigrad as mg


def main() -> None:
    mg.manual_seed(0)
    x = mg.Tensor([[1.0, 2.0, 3.0]], name="x")                       # (1×3) input row
    layer = mg.nn.Linear(3, 2)                                         # W (3×2), b (2,)
    h = layer(x).tanh().named("h")
    loss = mg.cross_entropy(h, [1]).named("loss")
    loss.backward()
    print("loss =", loss.item())
    for step in mg.topological_order(loss):
        made_by = type(step.grad_fn).__name__ if step.grad_fn is not None else "leaf"
        print(f"{step.name or '':>14} {made_by:>10}  shape {str(step.shape):8} grad {step.grad.round(4).tolist()}")
    for name, parameter in layer.named_parameters():
        print(f"d loss / d {name} =\n{parameter.grad}")


if __name__ == "__main__":
    main()
