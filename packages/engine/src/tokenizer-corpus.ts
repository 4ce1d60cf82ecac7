/**
 * The text the test tokenizer learns its merges from. Changing it changes every test model's
 * tokenizer hash, so treat it as frozen.
 */
export const TOKENIZER_CORPUS = `Verity is an open network for verifiable inference. Providers serve models behind an API that
speaks the same language as the tools people already use, and they are paid for every request they answer.
Validators take a sample of the answers and check them again: they feed the prompt and the answer to the same
model and measure how likely each token was. A provider that served a cheaper model, or changed the weights,
leaves a trace in those numbers, and the network can take back part of its stake.

The client opens a payment channel, signs a voucher with each request, and the provider returns a signed receipt.
Nothing is trusted that can be checked. The model is named by the hash of its weights and of its tokenizer, so
everyone agrees on what was promised. The price is set per token, the usage is counted in tokens, and the tokens
are what the validator scores.

Hello, how are you today? I am fine, thank you. What would you like to know? Tell me a story about the sea.
Once upon a time there was a small boat that sailed from the harbour at dawn. The wind was gentle and the water
was calm. The sailor looked at the sky and smiled, because the day was going to be a good one.

The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. Numbers like 0, 1, 2, 3, 10,
42, 100 and 2048 appear in text as well; so do dates such as 2024-05-17 and times like 12:30.
def add(a, b):
    return a + b

function greet(name) { return "Hello, " + name + "!"; }
{"role": "user", "content": "What is the capital of France?"}
{"role": "assistant", "content": "The capital of France is Paris."}
`;
