// The vitest projects: every package and example that has tests. vitest 4 ignores this file on its
// own, so vitest.config.ts imports the list from here.
export const projects = ['packages/*', 'examples/*'];
