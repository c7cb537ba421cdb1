// The probe units of issue 14's directories and credentials, shared by the oracle's re-record
// script (test/fixtures/execdirs/record.ts) and the tests (test/execdirs/*.test.ts). Each probe
// is a unit-file text with placeholders: @N@ the probe's unique name (dir-<id> in the oracle,
// uo-test-<random>-<id> here), @P@ the probe script (probe.sh), @O@ the file it appends to.
// Probe lines are normalized (the name becomes NAME) so that both sides compare line by line.

export interface Probe {
  readonly id: string;
  /** [Service] lines. */
  readonly service: readonly string[];
  /** Shell run as root before the unit starts (plants files, symlinks). */
  readonly setup?: string;
  /** Probe arguments run as root after the unit stopped ("after" lines). */
  readonly after: readonly string[];
  /** Paths (with @N@) removed afterwards, recursively, whatever happened. */
  readonly cleanup: readonly string[];
  /** 'inactive': the unit ends by itself; 'second': wait for the "second" probe line, then stop. */
  readonly settle: 'inactive' | 'second';
}

const oneshot = ['Type=oneshot'];
const restartScript = (p: string): string =>
  `ExecStart=/bin/sh -c 'if [ -e /run/@N@/marker ]; then @P@ @O@ second has:/run/@N@/marker; exec sleep 30; elif [ -e @O@.first ]; then @P@ @O@ second has:/run/@N@/marker; exec sleep 30; else touch @O@.first; @P@ @O@ first mark:/run/@N@ ${p}; exit 1; fi'`;

export const PROBES: readonly Probe[] = [
  {
    id: 'basic',
    service: [...oneshot, 'User=nobody', 'RuntimeDirectory=@N@ @N@-b/nested', 'StateDirectory=@N@', 'StateDirectoryMode=0700',
      'CacheDirectory=@N@', 'LogsDirectory=@N@', 'ConfigurationDirectory=@N@', 'ConfigurationDirectoryMode=0750',
      'ExecStartPre=@P@ @O@ pre /run/@N@ /var/lib/@N@',
      'ExecStart=@P@ @O@ start /run/@N@ /run/@N@-b /run/@N@-b/nested /var/lib/@N@ /var/cache/@N@ /var/log/@N@ /etc/@N@ write:/run/@N@ write:/var/lib/@N@ write:/etc/@N@'],
    after: ['/run/@N@', '/run/@N@-b/nested', '/run/@N@-b', '/var/lib/@N@', '/var/cache/@N@', '/var/log/@N@', '/etc/@N@'],
    cleanup: ['/run/@N@', '/run/@N@-b', '/var/lib/@N@', '/var/cache/@N@', '/var/log/@N@', '/etc/@N@'],
    settle: 'inactive',
  },
  {
    id: 'root',
    service: [...oneshot, 'RuntimeDirectory=@N@', 'RuntimeDirectoryMode=0711', 'StateDirectory=@N@ @N@/a/b', 'CacheDirectory=@N@', 'CacheDirectoryMode=0750', 'LogsDirectory=@N@', 'LogsDirectoryMode=0700',
      'ExecStart=@P@ @O@ start /run/@N@ /var/lib/@N@ /var/lib/@N@/a /var/lib/@N@/a/b /var/cache/@N@ /var/log/@N@'],
    after: ['/run/@N@', '/var/lib/@N@/a/b'],
    cleanup: ['/run/@N@', '/var/lib/@N@', '/var/cache/@N@', '/var/log/@N@'],
    settle: 'inactive',
  },
  {
    id: 'preserve-restart',
    service: ['User=nobody', 'RuntimeDirectory=@N@', 'RuntimeDirectoryPreserve=restart', 'Restart=on-failure', 'RestartSec=200ms', restartScript('')],
    after: ['/run/@N@'],
    cleanup: ['/run/@N@', '@O@.first'],
    settle: 'second',
  },
  {
    id: 'preserve-no',
    service: ['User=nobody', 'RuntimeDirectory=@N@', 'Restart=on-failure', 'RestartSec=200ms', restartScript('')],
    after: ['/run/@N@'],
    cleanup: ['/run/@N@', '@O@.first'],
    settle: 'second',
  },
  {
    id: 'preserve-yes',
    service: [...oneshot, 'User=nobody', 'RuntimeDirectory=@N@', 'RuntimeDirectoryPreserve=yes', 'ExecStart=@P@ @O@ start mark:/run/@N@'],
    after: ['/run/@N@', '/run/@N@/marker'],
    cleanup: ['/run/@N@'],
    settle: 'inactive',
  },
  {
    id: 'existing',
    setup: 'mkdir -p /var/lib/@N@/sub && touch /var/lib/@N@/sub/f && chmod 0777 /var/lib/@N@ && mkdir -p /etc/@N@ && chmod 0700 /etc/@N@',
    service: [...oneshot, 'User=nobody', 'StateDirectory=@N@', 'StateDirectoryMode=0750', 'ConfigurationDirectory=@N@', 'ExecStart=@P@ @O@ start /var/lib/@N@ /var/lib/@N@/sub /var/lib/@N@/sub/f /etc/@N@'],
    after: ['/var/lib/@N@'],
    cleanup: ['/var/lib/@N@', '/etc/@N@'],
    settle: 'inactive',
  },
  {
    // a user-owned folder in /var/lib where the user planted links to root's files
    id: 'symlink',
    setup: 'mkdir -p /var/lib/@N@ && chown nobody:nogroup /var/lib/@N@ && printf secret > /etc/@N@-victim && chmod 0600 /etc/@N@-victim'
      + ' && mkdir -p /etc/@N@-vdir && chmod 0700 /etc/@N@-vdir && ln -s /etc/@N@-victim /var/lib/@N@/sub && ln -s /etc/@N@-vdir /var/lib/@N@/d'
      + ' && chown -h nobody:nogroup /var/lib/@N@/sub /var/lib/@N@/d',
    service: [...oneshot, 'User=nobody', 'StateDirectory=@N@ @N@/d', 'ExecStart=@P@ @O@ start /var/lib/@N@/d'],
    after: ['/etc/@N@-victim', '/etc/@N@-vdir', '/var/lib/@N@/sub', '/var/lib/@N@/d'],
    cleanup: ['/var/lib/@N@', '/etc/@N@-victim', '/etc/@N@-vdir'],
    settle: 'inactive',
  },
  {
    id: 'fail',
    setup: 'touch /run/@N@',
    service: [...oneshot, 'RuntimeDirectory=@N@/x', 'ExecStart=@P@ @O@ start'],
    after: ['/run/@N@'],
    cleanup: ['/run/@N@'],
    settle: 'inactive',
  },
  {
    id: 'cred-missing',
    service: [...oneshot, 'LoadCredential=x:/nonexistent/@N@', 'ExecStart=@P@ @O@ start'],
    after: [],
    cleanup: [],
    settle: 'inactive',
  },
];

export interface Placeholders { readonly name: string; readonly probe: string; readonly out: string }

export function fill(s: string, p: Placeholders): string {
  return s.replaceAll('@N@', p.name).replaceAll('@P@', p.probe).replaceAll('@O@', p.out);
}

export function unitText(probe: Probe, p: Placeholders): string {
  return `[Service]\n${probe.service.map((l) => fill(l, p)).join('\n')}\n`;
}

/** Probe lines with the unique name replaced, the order kept. */
export function normalize(text: string, p: Placeholders): string[] {
  return text.split('\n').filter((l) => l !== '').map((l) => l.replaceAll(p.out, 'OUT').replaceAll(p.name, 'NAME'));
}

/** What the fixture holds per probe. */
export interface Recorded {
  readonly lines: readonly string[];
  /** The unit's state when the probe settled (before the stop). */
  readonly state: { readonly ActiveState: string; readonly Result: string; readonly ExecMainStatus: number };
}
