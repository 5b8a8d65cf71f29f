// Overview: models, languages, relations with fact counts (one request).
import { useQuery } from "../api.ts";
import { DataTable } from "../components/table.tsx";
import { Resolved } from "../components/status.tsx";
import { routes } from "../router.ts";

interface OverviewData {
  models: { name: string; architecture: string; modelType: string; layers: number; hidden: number; ffnWidth: number; vocabSize: number }[];
  languages: { code: string; name: string; factCount: number }[];
  relations: { id: string; label: string; factCount: number }[];
}

const OVERVIEW = `query Overview {
  models { name architecture modelType layers hidden ffnWidth vocabSize }
  languages { code name factCount }
  relations { id label factCount }
}`;

export function OverviewView() {
  const state = useQuery<OverviewData>(OVERVIEW, {});
  return (
    <section data-view="overview">
      <h1>Overview</h1>
      <Resolved state={state} what="the overview">
        {(d) => (
          <>
            <DataTable
              caption="Models"
              file="models"
              rows={d.models}
              columns={[
                { header: "model", value: (m) => m.name },
                { header: "architecture", value: (m) => m.architecture },
                { header: "type", value: (m) => m.modelType },
                { header: "layers", value: (m) => m.layers, numeric: true },
                { header: "hidden", value: (m) => m.hidden, numeric: true },
                { header: "FFN width", value: (m) => m.ffnWidth, numeric: true },
                { header: "vocabulary", value: (m) => m.vocabSize, numeric: true },
              ]}
            />
            <div class="grid2">
              <DataTable
                caption="Languages"
                file="languages"
                rows={d.languages}
                columns={[
                  { header: "code", value: (l) => l.code },
                  { header: "language", value: (l) => l.name },
                  { header: "facts", value: (l) => l.factCount, numeric: true },
                ]}
              />
              <DataTable
                caption="Relations"
                file="relations"
                rows={d.relations}
                columns={[
                  { header: "relation", value: (r) => r.id, render: (r) => <a href={routes.relation(r.id)}>{r.id}</a> },
                  { header: "label", value: (r) => r.label },
                  { header: "facts", value: (r) => r.factCount, numeric: true },
                ]}
              />
            </div>
          </>
        )}
      </Resolved>
    </section>
  );
}
