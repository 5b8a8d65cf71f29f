// Figures of docs/RESULTS.md: vega-lite specs rendered to SVG by vega (headless, no canvas needed).
import { writeFileSync } from "node:fs";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export interface Figure {
  file: string;
  title: string;
  /** One bar per (kind, group, layer): the share of that kind's occurrences in the layer. */
  values: { kind: string; group: string; layer: number; share: number; count: number }[];
}

/** Grouped bars: layers on x, share on y, one panel per kind, one colour per language or pair. */
export function layerSpec(f: Figure): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: f.title,
    data: { values: f.values },
    mark: "bar",
    encoding: {
      column: { field: "kind", type: "nominal", title: null },
      x: { field: "layer", type: "ordinal", title: "layer" },
      xOffset: { field: "group", type: "nominal" },
      y: { field: "share", type: "quantitative", title: "share of occurrences", axis: { format: "%" } },
      color: { field: "group", type: "nominal", title: "language / pair" },
      tooltip: [{ field: "count", type: "quantitative" }],
    },
    resolve: { scale: { color: "independent" } },
  };
}

export async function renderFigure(f: Figure): Promise<void> {
  const view = new vega.View(vega.parse(compile(layerSpec(f)).spec), { renderer: "none" });
  writeFileSync(f.file, await view.toSVG());
  view.finalize();
}
