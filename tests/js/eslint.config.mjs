// ESLint for the JavaScript shipped in the collection: the HTML report's script. Run by `make js-lint`
// (part of `make lint`) with the pinned eslint of package.json, installed into .work/js.
// The script runs in any current browser from a file:// page under a strict Content-Security-Policy:
// plain ES5 syntax with a few ES2015 built-ins, browser globals only, and it never parses data as markup.
const browser = ["window", "document", "navigator", "setTimeout", "clearTimeout"];
const builtins = ["JSON", "Number", "Math", "Array", "Intl", "Map", "Set"];

export default [
  {
    files: ["plugins/**/*.js"],
    languageOptions: {
      ecmaVersion: 5,
      sourceType: "script",
      globals: Object.fromEntries([...browser, ...builtins].map((name) => [name, "readonly"])),
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "no-undef": "error",
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],  // ES5 needs a catch binding
      "no-redeclare": "error",
      "no-shadow": "error",
      "no-implicit-globals": "error",
      "strict": ["error", "function"],
      "eqeqeq": "error",
      "curly": ["error", "all"],
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-script-url": "error",
      "no-unreachable": "error",
      "no-dupe-keys": "error",
      "no-fallthrough": "error",
      "no-constant-condition": "error",
      "no-unsafe-finally": "error",
      "valid-typeof": "error",
      "no-empty": "error",
      "no-useless-escape": "error",
      // Nothing from the report data may be parsed as markup: build nodes and set textContent.
      "no-restricted-properties": ["error",
        { property: "innerHTML", message: "use textContent: the data must never be parsed as markup" },
        { property: "outerHTML", message: "use textContent: the data must never be parsed as markup" },
        { property: "insertAdjacentHTML", message: "build nodes instead: the data must never be parsed as markup" },
        { object: "document", property: "write", message: "build nodes instead" }],
    },
  },
];
