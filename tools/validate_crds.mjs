// Validates custom resources offline against the schemas of the operators that serve them:
// CloudNativePG (Cluster, ImageCatalog, ScheduledBackup; the Barman Cloud ObjectStore's
// configuration) and External Secrets (ExternalSecret), from the pinned @kubernetes-models
// packages, which are generated from the operators' Go API types, as their CRDs are.
//
// Two checks per object: the package's validator (types, enums, required fields, patterns),
// and a walk over the same types' declarations that reports every field the type does not
// declare. The API server would prune such a field without a word; here it is an error.
//
//   NODE_PATH=<node_modules> node tools/validate_crds.mjs < manifests.json
//
// Input: a JSON list of manifests. Output: a JSON list of {kind, name, errors}; exit 1 when an
// object has errors or has no schema here.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.NODE_PATH;
if (!modules) {
  console.error("set NODE_PATH to the node_modules holding the @kubernetes-models packages");
  process.exit(2);
}
// Files by path: the packages export their models, not their compiled schemas.
const file = (specifier) => path.join(modules, `${specifier}.js`);
const load = async (specifier) => import(pathToFileURL(file(specifier)).href);

const MODELS = {
  "postgresql.cnpg.io/v1/Cluster": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Cluster",
  "postgresql.cnpg.io/v1/ImageCatalog": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/ImageCatalog",
  "postgresql.cnpg.io/v1/ScheduledBackup": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/ScheduledBackup",
  "external-secrets.io/v1/ExternalSecret": "@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret",
};
// The Barman Cloud plugin's ObjectStore wraps barman-cloud's object-store configuration (the
// same Go type CloudNativePG's in-tree backups used) with a retention policy and the sidecar's
// settings; the envelope is checked here, the configuration by barman-cloud's schema.
const OBJECT_STORE = "barmancloud.cnpg.io/v1/ObjectStore";
const OBJECT_STORE_FIELDS = new Set(["configuration", "retentionPolicy", "instanceSidecarConfiguration"]);
const RETENTION = /^[1-9][0-9]*[dwm]$/;
const BARMAN_CONFIGURATION =
  "@kubernetes-models/cloudnative-pg/_schemas/ComGithubCloudnativePgBarmanCloudPkgApiBarmanObjectStoreConfiguration";

// --- Declared fields, read from the packages' type declarations ----------------------------------
const interfaces = new Map(); // alias or name -> {fields: Map(field -> type text), bases: [names]}

function readDeclarations(directory) {
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const file = path.join(directory, entry.name);
    if (entry.isDirectory()) readDeclarations(file);
    else if (entry.name.endsWith(".d.ts")) parseDeclaration(fs.readFileSync(file, "utf8"));
  }
}

function parseDeclaration(text) {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i].match(/^export interface (\w+)(?: extends ([\w, ]+))? \{$/);
    if (!head) continue;
    const fields = new Map();
    let depth = 0;
    for (i++; i < lines.length && lines[i] !== "}"; i++) {
      const field = lines[i].match(/^ {4}"([^"]+)"\??: (.*)$/);
      if (field && depth === 0) fields.set(field[1], field[2]);
      depth += (lines[i].match(/\{/g) || []).length - (lines[i].match(/\}/g) || []).length;
    }
    const bases = head[2] ? head[2].split(",").map((b) => b.trim()).filter((b) => b !== "TypeMeta") : [];
    interfaces.set(head[1], { fields, bases });
  }
  for (const alias of text.matchAll(/export type \{ (\w+) as (\w+)/g)) {
    if (interfaces.has(alias[1])) interfaces.set(alias[2], interfaces.get(alias[1]));
  }
}

function declared(name) {
  const found = interfaces.get(name);
  if (!found) return null;
  const fields = new Map(found.fields);
  for (const base of found.bases) for (const [k, v] of declared(base) || []) fields.set(k, v);
  return fields;
}

// IComGithubCloudnativePgCloudnativePgApiV1AffinityConfiguration -> AffinityConfiguration
const shortName = (typeName) =>
  typeName.replace(/^I/, "").replace(/^.*?V1(?:alpha1|beta1)?(?=[A-Z])/, "").replace(/^ComGithub\w+?Api(?=[A-Z])/, "");

function undeclared(value, typeName, at, errors) {
  const fields = declared(typeName);
  if (!fields || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, item] of Object.entries(value)) {
    if (!fields.has(key)) {
      errors.push(`${at}/${key}: not a field of ${shortName(typeName)}`);
      continue;
    }
    const type = fields.get(key);
    if (type.trimStart().startsWith("{")) continue; // a map: free keys
    const inner = type.match(/I[A-Z]\w+/);
    if (!inner) continue;
    const items = type.startsWith("Array<") ? item : [item];
    (Array.isArray(items) ? items : [items]).forEach((element, index) =>
      undeclared(element, inner[0], type.startsWith("Array<") ? `${at}/${key}/${index}` : `${at}/${key}`, errors));
  }
}

for (const root of ["@kubernetes-models/cloudnative-pg", "@kubernetes-models/external-secrets", "kubernetes-models"]) {
  readDeclarations(path.join(modules, root));
}

// --- Validation -------------------------------------------------------------------------------------
const messages = (error) => (error.errors || [error]).map((e) => `${e.instancePath || ""} ${e.message}`.trim());

async function check(manifest) {
  const key = `${manifest.apiVersion}/${manifest.kind}`;
  const errors = [];
  if (key === OBJECT_STORE) {
    const spec = manifest.spec || {};
    for (const field of Object.keys(spec)) if (!OBJECT_STORE_FIELDS.has(field)) errors.push(`/spec/${field}: not a field of ObjectStoreSpec`);
    if (spec.retentionPolicy !== undefined && !RETENTION.test(spec.retentionPolicy)) {
      errors.push(`/spec/retentionPolicy: must match ${RETENTION}`);
    }
    const { validate } = await load(BARMAN_CONFIGURATION);
    if (!validate(spec.configuration)) errors.push(...validate.errors.map((e) => `/spec/configuration${e.instancePath} ${e.message}`));
    undeclared(spec.configuration, "IComGithubCloudnativePgBarmanCloudPkgApiBarmanObjectStoreConfiguration", "/spec/configuration", errors);
    return errors;
  }
  if (!MODELS[key]) return [`no schema for ${key}`];
  const module = await load(MODELS[key]);
  const Model = module[manifest.kind];
  try {
    new Model(manifest).validate();
  } catch (error) {
    errors.push(...messages(error));
  }
  const declaration = fs.readFileSync(file(MODELS[key]).replace(/\.js$/, ".d.ts"), "utf8");
  undeclared(manifest.spec, declaration.match(/"spec"\??: (I\w+);/)[1], "/spec", errors);
  return errors;
}

const manifests = JSON.parse(fs.readFileSync(0, "utf8"));
const results = [];
for (const manifest of manifests) {
  results.push({ kind: manifest.kind, name: manifest.metadata?.name, errors: await check(manifest) });
}
console.log(JSON.stringify(results, null, 2));
process.exit(results.some((r) => r.errors.length) ? 1 : 0);
