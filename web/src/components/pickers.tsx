// Model and language choices live in the URL (so a deep link reproduces the view).
import { navigate } from "../router.ts";

export function setQueryParam(name: string, value: string | null): void {
  const url = new URL(window.location.href);
  if (value) url.searchParams.set(name, value);
  else url.searchParams.delete(name);
  navigate(url.pathname + url.search, { replace: true });
}

export function ModelPicker({ models, value }: { models: { name: string }[]; value: string }) {
  return (
    <label>
      model
      <select value={value} onChange={(e) => setQueryParam("model", e.currentTarget.value)} name="model">
        {models.map((m) => (
          <option value={m.name}>{m.name}</option>
        ))}
      </select>
    </label>
  );
}

/** Links (not buttons) so each language view is a URL of its own. */
export function LanguageTabs({ languages, value, href, label }: { languages: string[]; value: string; href: (language: string) => string; label: string }) {
  return (
    <nav class="tabs" aria-label={label}>
      {languages.map((l) => (
        <a href={href(l)} aria-current={l === value ? "true" : undefined}>
          {l}
        </a>
      ))}
    </nav>
  );
}
