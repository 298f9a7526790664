/** When the demo takes a model server's answer as correct: fresh, and continuing the same process. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Answer, checkContinuingAnswer, checkFreshAnswer } from '../../src/demo/answer.js';

const fresh: Answer = {
  model: 'tiny',
  parameters: 8192,
  prompt: [80, 207, 141],
  tokens: [321, 258, 47],
  nonce: 'e4133562df4f7ba400f0e69568b3bd4c',
  counter: 1,
  pid: 1,
  startup: { import: 0, build: 0.001, warmup: 0.13 },
};

const problemsOf = (checked: ReturnType<typeof checkFreshAnswer>) => (checked.ok ? [] : checked.problems);

describe('checkFreshAnswer', () => {
  it('takes a well-formed answer of the expected model', () => {
    const checked = checkFreshAnswer(structuredClone(fresh), 'tiny');
    assert.equal(checked.ok, true);
  });

  it('names every missing or malformed field', () => {
    const problems = problemsOf(checkFreshAnswer({ model: 'tiny', tokens: 'x', nonce: 'short' }, 'tiny'));
    for (const field of ['answer.tokens', 'answer.nonce', 'answer.counter', 'answer.prompt']) {
      assert.ok(
        problems.some((p) => p.startsWith(field)),
        `${field} in ${problems.join('; ')}`,
      );
    }
  });

  it('refuses another model, a token count that does not match the prompt, tokens outside the vocabulary', () => {
    assert.match(problemsOf(checkFreshAnswer(fresh, 'gpt2-small')).join(), /expected gpt2-small/);
    assert.match(
      problemsOf(checkFreshAnswer({ ...fresh, tokens: [1, 2] }, 'tiny')).join(),
      /2 tokens for a prompt of 3/,
    );
    assert.match(
      problemsOf(checkFreshAnswer({ ...fresh, tokens: [1, 2, 512] }, 'tiny')).join(),
      /outside the vocabulary of 512: 512/,
    );
    assert.equal(
      checkFreshAnswer({ ...fresh, model: 'gpt2-small', tokens: [1, 2, 50256] }, 'gpt2-small').ok,
      true,
    );
  });
});

describe('checkContinuingAnswer', () => {
  it('takes the same nonce and tokens with the next counter', () => {
    const next = checkContinuingAnswer({ ...fresh, counter: 2, pid: 7 }, fresh);
    assert.equal(next.ok, true);
  });

  it('a new nonce is a fresh start, not a restore', () => {
    const problems = problemsOf(
      checkContinuingAnswer({ ...fresh, nonce: 'f'.repeat(32), counter: 2 }, fresh),
    );
    assert.match(problems.join(), /another process \(a fresh start\)/);
  });

  it('the counter must continue exactly, and the tokens must not change', () => {
    assert.match(
      problemsOf(checkContinuingAnswer({ ...fresh, counter: 1 }, fresh)).join(),
      /counter 1 does not continue from 1/,
    );
    assert.match(
      problemsOf(checkContinuingAnswer({ ...fresh, counter: 3 }, fresh)).join(),
      /counter 3 does not continue/,
    );
    assert.match(
      problemsOf(checkContinuingAnswer({ ...fresh, counter: 2, tokens: [1, 2, 3] }, fresh)).join(),
      /tokens \[1, 2, 3\] differ/,
    );
  });
});
