/**
 * What the demo's model server answers (workloads/model_server.py) and when an answer is correct. A fresh
 * server answers the model's tokens with a new nonce and counter 1; a restored one must answer the same
 * tokens with the nonce it was checkpointed with and the counter one past the last one seen: that is the
 * proof that it is the same process, not a fresh start.
 */
import { ajv, detailsOf } from '../validation/ajv.js';

export const ModelKind = { GPT2_SMALL: 'gpt2-small', TINY: 'tiny' } as const;
export type ModelKind = (typeof ModelKind)[keyof typeof ModelKind];

/** Vocabulary size per model: every token must be below it. */
export const vocabularyOf: Readonly<Record<ModelKind, number>> = { 'gpt2-small': 50257, tiny: 512 };

export interface Answer {
  model: ModelKind;
  parameters: number;
  prompt: number[];
  tokens: number[];
  nonce: string;
  counter: number;
  pid: number;
  /** Seconds the server spent on each start-up step (import, build, warmup). */
  startup: Record<string, number>;
}

const validate = ajv.compile<Answer>({
  type: 'object',
  required: ['model', 'parameters', 'prompt', 'tokens', 'nonce', 'counter', 'pid', 'startup'],
  properties: {
    model: { enum: Object.values(ModelKind) },
    parameters: { type: 'integer', minimum: 1 },
    prompt: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } },
    tokens: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } },
    nonce: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    counter: { type: 'integer', minimum: 1 },
    pid: { type: 'integer', minimum: 1 },
    startup: { type: 'object', additionalProperties: { type: 'number' } },
  },
});

/** A parsed answer, or the list of what is wrong with it. */
export type Checked = { ok: true; answer: Answer } | { ok: false; problems: string[] };

/** An answer of a freshly started server of `model`: well-formed, one token per prompt position, in range. */
export function checkFreshAnswer(body: unknown, model: ModelKind): Checked {
  if (!validate(body)) {
    return {
      ok: false,
      problems: detailsOf(validate.errors, 'answer').map((d) => `${d.field} ${d.message}`),
    };
  }
  const problems: string[] = [];
  if (body.model !== model) problems.push(`answer.model is ${body.model}, expected ${model}`);
  if (body.tokens.length !== body.prompt.length) {
    problems.push(`answer.tokens has ${body.tokens.length} tokens for a prompt of ${body.prompt.length}`);
  }
  const vocabulary = vocabularyOf[model];
  const outside = [...body.prompt, ...body.tokens].filter((t) => t >= vocabulary);
  if (outside.length > 0)
    problems.push(`tokens outside the vocabulary of ${vocabulary}: ${outside.join(', ')}`);
  return problems.length === 0 ? { ok: true, answer: body } : { ok: false, problems };
}

/**
 * An answer of the same process as `reference`, the last answer seen (before the checkpoint, for a
 * restored server): correct as a fresh answer, the same tokens and nonce, the counter one past it.
 */
export function checkContinuingAnswer(body: unknown, reference: Answer): Checked {
  const fresh = checkFreshAnswer(body, reference.model);
  if (!fresh.ok) return fresh;
  const { answer } = fresh;
  const problems: string[] = [];
  if (answer.nonce !== reference.nonce) {
    problems.push(`nonce ${answer.nonce} is not ${reference.nonce}: another process (a fresh start)`);
  }
  if (answer.counter !== reference.counter + 1) {
    problems.push(`counter ${answer.counter} does not continue from ${reference.counter}`);
  }
  if (answer.tokens.join(',') !== reference.tokens.join(',')) {
    problems.push(`tokens [${answer.tokens.join(', ')}] differ from [${reference.tokens.join(', ')}]`);
  }
  return problems.length === 0 ? { ok: true, answer } : { ok: false, problems };
}
