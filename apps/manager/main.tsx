import { render } from "preact";
import "../shared/base.css";

const root = document.getElementById("app");
if (root === null) throw new Error("the manager page has no #app element");
render(<p>edgestock manager</p>, root);
