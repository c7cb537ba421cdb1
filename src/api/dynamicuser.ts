// DynamicUser= as systemd 257's manager takes it when it loads a unit (unit_patch_contexts(),
// checked with `systemctl show` in systemd-oracle): the user's name and what it implies. Pure:
// shared by the runner (which applies the result) and `unitctl security` (which assesses it).

type Values = Readonly<Record<string, unknown>>;

const TRUE = /^(1|yes|y|true|t|on)$/i;
const FALSE = /^(0|no|n|false|f|off)$/i;
const isTrue = (v: unknown): boolean => v === true || (typeof v === 'string' && TRUE.test(v));
const isOff = (v: unknown): boolean => v === undefined || v === null || v === false || v === '' || (typeof v === 'string' && FALSE.test(v));

/** The range systemd allocates dynamic users and groups from (DYNAMIC_UID_MIN…MAX). */
export const DYNAMIC_UID_MIN = 61184;
export const DYNAMIC_UID_MAX = 65519;

export const hasDynamicUser = (service: Values | undefined): boolean => isTrue(service?.['dynamicUser']);

/**
 * The user name systemd derives from the unit's name when DynamicUser= comes without User=
 * (user_from_unit_name()): the prefix (without ".service" and the instance), when it is a valid
 * user name, else "_du" and a hash of it (here: the prefix, as systemd's fallback is rare and
 * only its being distinct matters).
 */
export function dynamicUserName(unitName: string): string {
  const prefix = unitName.replace(/\.service$/, '').replace(/@.*$/, '');
  return /^[a-zA-Z_][a-zA-Z0-9_-]{0,30}$/.test(prefix) ? prefix : `_du${prefix}`;
}

/**
 * spec.service with DynamicUser='s implications, as the manager adds them at load: User= (the
 * unit's name when unset) and Group= (the user's name when unset), ProtectSystem=strict,
 * ProtectHome=read-only (unless set), PrivateTmp=disconnected (unless set), RemoveIPC=yes,
 * NoNewPrivileges=yes, RestrictSUIDSGID=yes. Without DynamicUser=yes: the same object.
 */
export function withDynamicUser<T extends Values | undefined>(service: T, unitName: string): T {
  if (!service || !hasDynamicUser(service)) return service;
  const user = typeof service['user'] === 'string' && service['user'] !== '' ? service['user'] : dynamicUserName(unitName);
  const group = typeof service['group'] === 'string' && service['group'] !== '' ? service['group'] : user;
  return {
    ...service, user, group,
    protectSystem: 'strict',
    protectHome: isOff(service['protectHome']) ? 'read-only' : service['protectHome'],
    privateTmp: isOff(service['privateTmp']) ? 'disconnected' : service['privateTmp'],
    removeIPC: true, noNewPrivileges: true, restrictSUIDSGID: true,
  } as T;
}
