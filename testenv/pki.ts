// Certificates and keys for a local control plane, made with the openssl CLI: a CA, the API
// server's serving certificate (127.0.0.1, localhost), the service-account signing key, the API
// server's client certificate for kubelets (exec, logs), and for the real-node harness a
// kubelet's client (O=system:nodes) and serving certificates.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  readonly caCert: string;
  readonly caKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly saKey: string;
  readonly saPub: string;
  /** The API server's client certificate towards kubelets (--kubelet-client-certificate). */
  readonly kubeletClientCert: string;
  readonly kubeletClientKey: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl is needed to make the test control plane's certificates (apt-get install openssl): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

export function makePki(dir: string): Pki {
  const p = (f: string): string => join(dir, f);
  writeFileSync(p('serving.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=unit-operator-test-ca'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'serving.key', '-out', 'serving.csr', '-subj', '/CN=kube-apiserver'], dir);
  openssl(['x509', '-req', '-in', 'serving.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'serving.crt', '-days', '30', '-extfile', 'serving.ext'], dir);
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  signed(dir, 'apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  return {
    caCert: p('ca.crt'), caKey: p('ca.key'), servingCert: p('serving.crt'), servingKey: p('serving.key'), saKey: p('sa.key'), saPub: p('sa.pub'),
    kubeletClientCert: p('apiserver-kubelet-client.crt'), kubeletClientKey: p('apiserver-kubelet-client.key'),
  };
}

/** A key and a certificate NAME.crt/NAME.key in dir, signed by the CA there (ca.crt, ca.key). */
function signed(dir: string, name: string, subject: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '30', '-extfile', `${name}.ext`], dir);
}

export interface KubeletPki {
  readonly clientCert: string;
  readonly clientKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
}

/**
 * A kubelet's certificates, signed by the control plane's CA (in caDir): its client certificate
 * (O=system:nodes, CN=system:node:NAME: the Node authorizer's identity) and its serving
 * certificate for the addresses the API server dials (exec, logs) — written into caDir.
 */
export function makeKubeletPki(caDir: string, nodeName: string, ips: readonly string[]): KubeletPki {
  signed(caDir, 'kubelet-client', `/O=system:nodes/CN=system:node:${nodeName}`, 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  const sans = [...ips.map((ip) => `IP:${ip}`), `DNS:${nodeName}`, 'DNS:localhost'].join(',');
  signed(caDir, 'kubelet-serving', `/CN=${nodeName}`, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
  const p = (f: string): string => join(caDir, f);
  return { clientCert: p('kubelet-client.crt'), clientKey: p('kubelet-client.key'), servingCert: p('kubelet-serving.crt'), servingKey: p('kubelet-serving.key') };
}
