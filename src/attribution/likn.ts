// Language-independent knowledge neurons (ALGORITHMS.md §5.1): per fact, the knowledge neurons
// shared by every chosen language; per relation, how many facts share each such neuron.
import { type Neuron, neuronKey as key } from "./model-port.ts";

/** Intersection of per-language neuron lists, in the order of the first list; [] if any is empty. */
export function intersectNeurons(perLanguage: readonly (readonly Neuron[])[]): Neuron[] {
  if (perLanguage.length === 0) return [];
  const [first, ...rest] = perLanguage;
  const others = rest.map((list) => new Set(list.map(key)));
  const seen = new Set<string>();
  const out: Neuron[] = [];
  for (const n of first) {
    const k = key(n);
    if (!seen.has(k) && others.every((s) => s.has(k))) out.push([n[0], n[1]]);
    seen.add(k);
  }
  return out;
}

export interface RelationNeuron {
  layer: number;
  unit: number;
  facts: number;
}

/** Counts, over a relation's facts, how many facts have each language-independent neuron. */
export function aggregateByNeuron(perFact: readonly (readonly Neuron[])[], minFacts = 1): RelationNeuron[] {
  const counts = new Map<string, RelationNeuron>();
  for (const neurons of perFact) {
    for (const k of new Set(neurons.map(key))) {
      const [layer, unit] = k.split(":").map(Number);
      const e = counts.get(k) ?? { layer, unit, facts: 0 };
      e.facts++;
      counts.set(k, e);
    }
  }
  return [...counts.values()].filter((e) => e.facts >= minFacts).sort((a, b) => b.facts - a.facts || a.layer - b.layer || a.unit - b.unit);
}
