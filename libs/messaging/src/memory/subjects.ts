/** NATS subject matching: `*` matches one token, a trailing `>` one or more. */
export function subjectMatches(filter: string, subject: string): boolean {
  if (filter === subject) return true;
  const wanted = filter.split('.');
  const tokens = subject.split('.');
  for (let index = 0; index < wanted.length; index += 1) {
    const token = wanted[index];
    if (token === '>') return tokens.length > index;
    if (index >= tokens.length) return false;
    if (token !== '*' && token !== tokens[index]) return false;
  }
  return wanted.length === tokens.length;
}
