"""The identity graph: inventory, references and workflows, graph building, survival, audit."""
