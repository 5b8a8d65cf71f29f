import { render } from "preact";
import { App } from "./app.tsx";
import { installLinkHandler } from "./router.ts";
import "./style.css";

installLinkHandler();
render(<App />, document.getElementById("app")!);
