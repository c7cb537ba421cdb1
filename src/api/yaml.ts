// YAML as kubectl reads it. kubectl and the API server's clients parse manifests with
// sigs.k8s.io/yaml, which is go-yaml v2: YAML 1.1 scalars, where a bare yes/no/on/off/y/n is a
// boolean, a leading 0 makes an octal integer and "_" may separate digits. js-yaml's default
// (YAML 1.2 core) reads `restart: no` as the string "no", so an offline check would pass what
// the API server refuses ("Unsupported value: false"). Loading with this schema, the offline
// validator sees what the server sees and can say to quote the value.

import { loadAll, CORE_SCHEMA, boolYaml11Tag, defineScalarTag, NOT_RESOLVED, type Schema } from 'js-yaml';

/** go-yaml v2's integers: strconv.ParseInt(s, 0, 64) after removing "_": 0x1F, 0o17, 017 (octal), 0b101, 42. */
const goIntTag = defineScalarTag<number>('tag:yaml.org,2002:int', {
  implicit: true,
  implicitFirstChars: ['-', '+', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  resolve: (source) => {
    const s = source.replace(/_/g, '');
    const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]+|[1-9][0-9]*|0)$/.exec(s);
    if (!m || source.startsWith('_')) return NOT_RESOLVED;
    const body = m[2]!;
    const n = /^0[0-7]+$/.test(body) ? parseInt(body.slice(1), 8)
      : /^0[oO]/.test(body) ? parseInt(body.slice(2), 8)
        : /^0[bB]/.test(body) ? parseInt(body.slice(2), 2) : Number(body);
    return m[1] === '-' ? -n : n;
  },
  identify: (data) => Number.isInteger(data),
});

/** The YAML 1.1 schema as go-yaml v2 resolves plain scalars (booleans and integers; floats and nulls as YAML 1.2 core). */
export const KUBECTL_YAML_SCHEMA: Schema = CORE_SCHEMA.withTags(boolYaml11Tag, goIntTag);

/** Every document of a YAML text as kubectl reads it; nulls (empty documents) dropped. Throws js-yaml's YAMLException. */
export function loadKubectlYaml(text: string): unknown[] {
  return loadAll(text, { schema: KUBECTL_YAML_SCHEMA }).filter((d) => d !== null && d !== undefined);
}
