/**
 * What a vault API does in the tests that count deliveries: posts one SyncCipherUpdate (type 0)
 * for a personal cipher to a gateway's `/send` with an internal token. Resolves with the HTTP
 * status, or `'error'` when no answer came (refused, reset, or past `timeoutMs`): `/send`
 * answers 200 only once JetStream stored the event, so only those must reach their targets.
 */
export async function postCipherUpdate(
  gatewayUrl: string,
  token: string,
  cipher: { id: string; userId: string },
  timeoutMs = 15_000,
): Promise<number | 'error'> {
  try {
    const response = await fetch(`${gatewayUrl}/send`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        type: 0,
        payload: {
          id: cipher.id,
          userId: cipher.userId,
          organizationId: null,
          collectionIds: null,
          revisionDate: new Date().toISOString(),
        },
        contextId: null,
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 'error';
  }
}
