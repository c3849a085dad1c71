// Copies the browser builds we serve from node_modules into src/dancu/static/vendor (git-ignored).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "src", "dancu", "static", "vendor");
const files = {
  "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
  "jsQR.js": "node_modules/jsqr/dist/jsQR.js",
  "qrcode.js": "node_modules/qrcode-generator/qrcode.js",
  "chart.umd.js": "node_modules/chart.js/dist/chart.umd.js",
};
mkdirSync(out, { recursive: true });
for (const [name, src] of Object.entries(files)) {
  copyFileSync(join(root, src), join(out, name));
}
console.log(`vendored ${Object.keys(files).length} files into ${out}`);
