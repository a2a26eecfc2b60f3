"""The identity graph in the datastore: `save_graph` writes a networkx `MultiDiGraph` (nodes,
keyed edges, graph attributes; every attribute JSON-serialisable, node keys strings or integers)
as a snapshot replacing the previous one; `load_graph` gives it back equal. The graph stage builds
the graph; this module only keeps it, so `graph`, `survivors` and `audit` can run without a scan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from scanner.errors import ConfigError
from scanner.store.schema import Conn

if TYPE_CHECKING:
    import networkx as nx


def _key(node: object) -> str:
    if isinstance(node, bool) or not isinstance(node, (str, int)):
        raise ConfigError(f"graph node keys must be strings or integers, not {type(node).__name__}")
    return json.dumps(node)


def _dumps(attrs: dict[str, Any], what: str) -> str:
    try:
        return json.dumps(attrs, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"graph {what} has an attribute that is not JSON: {exc}") from None


class GraphMixin:
    conn: Conn

    def write(self) -> AbstractContextManager[Conn]:
        raise NotImplementedError

    def save_graph(self, graph: nx.MultiDiGraph, scan_id: int | None = None) -> None:
        """Replace the stored graph with `graph` (one transaction)."""
        from scanner.store.db import now

        nodes = [(_key(n), str(a.get("kind", "")), _dumps(a, f"node {n!r}"))
                 for n, a in graph.nodes(data=True)]
        edges = [(_key(u), _key(v), json.dumps(k), str(a.get("kind", "")),
                  _dumps(a, f"edge {u!r}->{v!r}"))
                 for u, v, k, a in graph.edges(keys=True, data=True)]
        meta = _dumps(dict(graph.graph), "attributes")
        with self.write() as c:
            c.execute("DELETE FROM graph_edges")
            c.execute("DELETE FROM graph_nodes")
            c.executemany("INSERT INTO graph_nodes (id, kind, attrs) VALUES (?, ?, ?)", nodes)
            c.executemany("INSERT INTO graph_edges (src, dst, key, kind, attrs) "
                          "VALUES (?, ?, ?, ?, ?)", edges)
            c.execute("INSERT INTO graph_meta (id, saved, scan_id, attrs) VALUES (1, ?, ?, ?) "
                      "ON CONFLICT (id) DO UPDATE SET saved = excluded.saved, "
                      "scan_id = excluded.scan_id, attrs = excluded.attrs", (now(), scan_id, meta))

    def load_graph(self) -> nx.MultiDiGraph:
        """The stored graph (empty when none was saved)."""
        import networkx as nx  # only the graph commands pay for the import

        g: nx.MultiDiGraph = nx.MultiDiGraph()
        meta = self.conn.execute("SELECT attrs FROM graph_meta WHERE id = 1").fetchone()
        if meta:
            g.graph.update(json.loads(meta[0]))
        for nid, attrs in self._rows("SELECT id, attrs FROM graph_nodes ORDER BY rowid"):
            g.add_node(json.loads(nid), **json.loads(attrs))
        for src, dst, key, attrs in self._rows(
                "SELECT src, dst, key, attrs FROM graph_edges ORDER BY seq"):
            g.add_edge(json.loads(src), json.loads(dst), key=json.loads(key), **json.loads(attrs))
        return g

    def _rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        yield from self.conn.execute(sql)
