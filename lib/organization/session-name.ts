/**
 * A role session name STS accepts (2 to 64 of `\w+=,.@-`), from any text. In a module of its own
 * so that the per-account audit, which names its member role sessions with it, does not bring the
 * discovery's management-role AssumeRole into the audit function's bundle.
 */
export function roleSessionName(text: string): string {
  const cleaned = text.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return cleaned.length >= 2 ? cleaned : `${cleaned}--`.slice(0, 2);
}
