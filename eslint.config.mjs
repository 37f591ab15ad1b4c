import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** Who may import whom (ARCHITECTURE.md "Dependency rule"); tests may also use the testing lib. */
function boundaries(inTests) {
  const constraints = [
    { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
    { sourceTag: 'type:protocol', onlyDependOnLibsWithTags: [] },
    { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:contracts', 'type:protocol', 'type:core'] },
    { sourceTag: 'type:publisher', onlyDependOnLibsWithTags: ['type:contracts'] },
    { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:contracts', 'type:protocol', 'type:core'] },
    {
      sourceTag: 'type:app',
      onlyDependOnLibsWithTags: ['type:service', 'type:core', 'type:contracts', 'type:protocol'],
    },
    {
      // Operator commands: the services' libraries, and the publisher to reach NATS as a vault API does.
      sourceTag: 'type:cli',
      onlyDependOnLibsWithTags: [
        'type:service',
        'type:core',
        'type:contracts',
        'type:protocol',
        'type:publisher',
      ],
    },
    {
      sourceTag: 'type:testing',
      onlyDependOnLibsWithTags: ['type:contracts', 'type:protocol', 'type:core', 'type:publisher'],
    },
    {
      sourceTag: 'type:e2e',
      onlyDependOnLibsWithTags: ['type:testing', 'type:contracts', 'type:protocol', 'type:publisher'],
    },
    {
      // The benchmark harness feeds deliveries exactly as the dispatcher publishes them (core libs).
      sourceTag: 'type:bench',
      onlyDependOnLibsWithTags: [
        'type:testing',
        'type:contracts',
        'type:protocol',
        'type:publisher',
        'type:core',
      ],
    },
  ];
  return {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: inTests
      ? constraints.map((c) => ({
          ...c,
          onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing'],
        }))
      : constraints,
  };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'tmp/**', 'coverage/**', '.nx/**', '**/*.js', '**/*.mjs'] },
  ...nx.configs['flat/base'],
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      '@nx/enforce-module-boundaries': ['error', boundaries(false)],
    },
  },
  {
    // Tests may reach into any lib of ours (never an app) and use looser typing for assertions.
    files: [
      '**/*.spec.ts',
      '**/*.int-spec.ts',
      '**/*.e2e-spec.ts',
      'soak/**/*.ts',
      'libs/testing/**/*.ts',
      // Test fixtures kept beside the code they exercise.
      'libs/*/src/testing/**/*.ts',
      'bench/**/*.ts',
    ],
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaries(true)],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // The services and apps see the broker only through the port tokens of @herald/messaging.
    files: ['apps/*/src/**/*.ts', 'libs/{gateway,dispatcher,push,heartbeat,vaultwarden}/src/**/*.ts'],
    // Tests (and their fixtures under testing/) may build an engine themselves.
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['nats', '@herald/messaging/*'],
              message: 'inject a broker port token from @herald/messaging instead',
            },
            {
              group: ['@herald/messaging'],
              importNamePattern:
                '^(Nats|createNatsBroker|connectWithStreams|ensureStreams|streamConfigs|DEFAULT_TOPOLOGY|MemoryBroker$)',
              message: 'engines are chosen by MessagingModule; inject a port token instead',
            },
          ],
        },
      ],
    },
  },
  {
    // Operator commands talk to a terminal.
    files: ['apps/cli/src/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  prettier,
);
