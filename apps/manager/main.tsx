import { render } from "preact";
import "../shared/base.css";
import "./manager.css";
import { App } from "./app";

const root = document.getElementById("app");
if (root === null) throw new Error("the manager page has no #app element");
render(<App />, root);
