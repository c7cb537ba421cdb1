// The part of fengari (a Lua VM in JavaScript) the Argo CD health-check test uses.
declare module 'fengari' {
  type State = object;
  const fengari: {
    lua: { LUA_OK: number; lua_tostring(L: State, index: number): Uint8Array };
    lauxlib: { luaL_newstate(): State; luaL_dostring(L: State, code: Uint8Array): number };
    lualib: { luaL_openlibs(L: State): void };
    to_luastring(s: string): Uint8Array;
    to_jsstring(s: Uint8Array): string;
  };
  export default fengari;
}
