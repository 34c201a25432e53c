// Service definition files: one instance, or a list of them, in the same shape as the registration body of
// `PUT /v1/services/<service>/instances/<id>` (service, id, address, weight, priority, zone, tags, tlsPort,
// check), written as YAML or JSON (JSON is YAML). Shared by `mesh registry start --services-dir` and
// `mesh register -f`. Every entry is validated by the API's own validator, so a file accepts exactly what the
// API accepts.
import { parse as parseYaml } from 'yaml';
import { MeshError, ValidationError } from '../../core/errors.js';
import type { InstanceSpec } from '../../core/types.js';
import { validateInstanceSpec } from '../../core/validate.js';

/** The file names a services dir loads: *.yaml, *.yml, *.json (hidden files and editor backups are skipped). */
export function isDefinitionFile(name: string): boolean {
  return !name.startsWith('.') && /\.(ya?ml|json)$/i.test(name);
}

/**
 * The instances a file defines. Throws MESH_ERR_CONFIG_INVALID with a message naming the file and the field,
 * e.g. `web.yaml: [1].address: invalid address "x": use host:port, e.g. 127.0.0.1:8080`.
 */
export function parseDefinitions(name: string, text: string): InstanceSpec[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    throw invalid(name, `not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) throw invalid(name, 'the file is empty: define an instance, e.g. {service: web, address: "127.0.0.1:8080"}');
  const list = Array.isArray(doc) ? doc : [doc];
  if (list.length === 0) throw invalid(name, 'the list is empty: define at least one instance');
  const seen = new Set<string>();
  return list.map((entry, i) => {
    const at = Array.isArray(doc) ? `[${i}].` : '';
    let spec: InstanceSpec;
    try {
      spec = validateInstanceSpec(entry);
    } catch (err) {
      if (err instanceof ValidationError) throw invalid(name, `${at}${err.field}: ${err.message}`);
      throw err;
    }
    const key = `${spec.service}/${spec.id}`;
    if (seen.has(key)) throw invalid(name, `${at}id: instance ${key} is defined twice in the file`);
    seen.add(key);
    return spec;
  });
}

function invalid(name: string, message: string): MeshError {
  return new MeshError('MESH_ERR_CONFIG_INVALID', `${name}: ${message}`);
}
