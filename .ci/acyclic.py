#!/usr/bin/env python3
"""Fails when restgate's modules import each other in a cycle.

Reads the "uses" edges of the module graph that `cargo modules dependencies`
prints (DOT on standard input: modules only, no "owns" edges) and reports
every strongly connected component of more than one module. cargo-modules'
own `--acyclic` runs before its filters, so it also counts a type and its
methods as a cycle; this checks the filtered module graph instead.
"""
import re
import sys
from collections import defaultdict

edges = defaultdict(set)
pattern = re.compile(r'\s*"([^"]+)" -> "([^"]+)" \[label="uses"')
for line in sys.stdin:
    m = pattern.match(line)
    if m and m.group(1) != m.group(2):
        edges[m.group(1)].add(m.group(2))
nodes = set(edges) | {w for ws in edges.values() for w in ws}
if not edges:
    sys.exit("no module dependencies read: did cargo modules run?")

# Tarjan's strongly connected components, iteratively.
index, low, on_stack, stack, cycles = {}, {}, set(), [], []
counter = 0
for root in sorted(nodes):
    if root in index:
        continue
    work = [(root, iter(sorted(edges[root])))]
    index[root] = low[root] = counter
    counter += 1
    stack.append(root)
    on_stack.add(root)
    while work:
        v, children = work[-1]
        for w in children:
            if w not in index:
                index[w] = low[w] = counter
                counter += 1
                stack.append(w)
                on_stack.add(w)
                work.append((w, iter(sorted(edges[w]))))
                break
            if w in on_stack:
                low[v] = min(low[v], index[w])
        else:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))

print(f"{len(nodes)} modules, {sum(len(w) for w in edges.values())} import edges")
for c in cycles:
    print("cycle: " + " <-> ".join(c))
sys.exit(1 if cycles else 0)
