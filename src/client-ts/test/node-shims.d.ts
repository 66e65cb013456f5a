// The few Node.js APIs the tests use, declared here so that TypeScript stays the only devDependency
// (no @types/node). The tests compile with lib ES2022 only, which also proves that the package's
// declarations need neither DOM nor Node types.

declare module "node:test" {
  type TestFn = () => void | Promise<void>;
  interface TestOptions {
    timeout?: number;
  }
  export function test(name: string, fn: TestFn): Promise<void>;
  export function test(name: string, options: TestOptions, fn: TestFn): Promise<void>;
  export function describe(name: string, fn: () => void | Promise<void>): Promise<void>;
  export function before(fn: TestFn): void;
  export function after(fn: TestFn): void;
  export function beforeEach(fn: TestFn): void;
  export function afterEach(fn: TestFn): void;
}

declare module "node:assert/strict" {
  interface Assert {
    (value: unknown, message?: string): asserts value;
    ok(value: unknown, message?: string): asserts value;
    equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    match(value: string, pattern: RegExp, message?: string): void;
    throws(fn: () => unknown, expected?: object | RegExp | ((error: any) => boolean), message?: string): void;
    rejects(promise: Promise<unknown> | (() => Promise<unknown>), expected?: object | RegExp | ((error: any) => boolean), message?: string): Promise<void>;
    fail(message?: string): never;
  }
  const assert: Assert;
  export default assert;
}

declare const process: {
  readonly env: Record<string, string | undefined>;
  readonly version: string;
};

declare function setTimeout(callback: () => void, ms?: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare const console: { log(...args: unknown[]): void; error(...args: unknown[]): void };
declare class URL {
  constructor(url: string);
  readonly searchParams: { get(name: string): string | null };
}
