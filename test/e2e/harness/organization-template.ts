import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onlyResource, type Physical, resolve } from './template.ts';

/**
 * Organization mode's template (the OrganizationAuditStack), synthesized for a test, and what the
 * tests read of it: the state machine's definition (the map's ItemSelector, the per-account task's
 * ResultSelector, the outcome states) and each step's function with its environment resolved.
 */

/** CloudFormation and Amazon States Language JSON are untyped by nature. */
type Json = any;

const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./synth-organization.ts', import.meta.url));

/** Synthesizes the stack with the given CDK context (in a child process: the caller's event loop stays free). */
export async function synthOrganizationTemplate(context: Record<string, string>): Promise<Json> {
  const outdir = await mkdtemp(join(tmpdir(), 'aa-e2e-org-synth-'));
  try {
    const { stdout } = await promisify(execFile)(
      join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'),
      [SCRIPT, JSON.stringify(context), outdir],
      { cwd: PROJECT_ROOT, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 },
    );
    return JSON.parse(stdout);
  } catch (error) {
    throw new Error(`synthesizing the organization stack failed: ${(error as Error).message}`);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

/** The state machine's definition, each CloudFormation token written as `<LogicalId>` or `<LogicalId.Attribute>`. */
export function stateMachineDefinition(tpl: Json): Json {
  const body = onlyResource(tpl, 'AWS::StepFunctions::StateMachine').properties.DefinitionString;
  const parts: Json[] = body['Fn::Join'] ? body['Fn::Join'][1] : [body];
  const text = parts.map((p) => (typeof p === 'string' ? p : p.Ref ? `<${p.Ref}>` : `<${p['Fn::GetAtt'].join('.')}>`)).join('');
  return JSON.parse(text);
}

/** The function a Lambda task state invokes: its logical ID and its environment, resolved against `physical`. */
export function taskFunction(tpl: Json, task: Json, physical: Physical): { id: string; environment: Record<string, string> } {
  const name = /^<([A-Za-z0-9]+)\.Arn>$/.exec(task?.Parameters?.FunctionName ?? '')?.[1];
  const fn = name ? tpl.Resources[name] : undefined;
  if (!name || fn?.Type !== 'AWS::Lambda::Function')
    throw new Error(`the task invokes no function of the template: ${JSON.stringify(task)}`);
  return { id: name, environment: resolve(fn.Properties.Environment?.Variables ?? {}, physical) };
}

/**
 * A JSONPath Parameters/ItemSelector/ResultSelector template applied as Step Functions applies
 * it: `key.$` fields take the value at their path (`$.…` in the input, `$$.…` in the context
 * object), other fields are copied, objects are applied field by field.
 */
export function applyPayloadTemplate(template: Json, input: Json, context: Json = {}): Json {
  if (Array.isArray(template)) return template.map((t) => applyPayloadTemplate(t, input, context));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) out[key.slice(0, -2)] = jsonPath(value as string, input, context);
    else out[key] = applyPayloadTemplate(value, input, context);
  }
  return out;
}

/** The simple paths of the definition (`$`, `$.a.b`, `$$.Map.Item.Value`); anything else is an error, never a guess. */
export function jsonPath(path: string, input: Json, context: Json = {}): Json {
  const match = /^(\$\$?)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)$/.exec(path);
  if (!match) throw new Error(`unsupported JSONPath ${JSON.stringify(path)}`);
  let value = match[1] === '$$' ? context : input;
  for (const key of match[2]!.split('.').slice(1)) {
    if (value === null || typeof value !== 'object' || !(key in value)) throw new Error(`JSONPath ${path}: no field ${key}`);
    value = value[key];
  }
  return value;
}
