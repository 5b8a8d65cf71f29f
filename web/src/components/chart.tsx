// Observable Plot inside Preact: the figure is rebuilt when its options change.
import * as Plot from "@observablehq/plot";
import { useEffect, useRef } from "preact/hooks";

export function Chart({ options, label, name }: { options: Plot.PlotOptions; label: string; name: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const figure = Plot.plot({ style: { fontSize: "12px", background: "transparent" }, ...options });
    figure.setAttribute("role", "img");
    figure.setAttribute("aria-label", label);
    ref.current!.replaceChildren(figure);
    return () => figure.remove();
  }, [options]);
  return <div class="chart" data-chart={name} ref={ref} />;
}

export { Plot };
