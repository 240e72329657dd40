/**
 * A small account served by the mocked AWS clients, in which every check's verdict depends on
 * every call it makes: alice is an admin (FAIL critical), bob's key is 200 days old (FAIL, so
 * ListAccessKeys is called), root has no key (only the real-time summary can prove it), no
 * ElastiCache service-linked role and no clusters (whether clusters exist decides FAIL or WARN),
 * and a DAX cluster whose role trusts DAX (PASS).
 */
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import {
  ADMINISTRATOR_ACCESS,
  accountSummaryResponse,
  authorizationDetailsPage,
  credentialReportCsv,
  credentialReportResponse,
  daxCluster,
  daysBefore,
  listAccessKeysResponse,
  roleArn,
  roleDetail,
  rootReportRow,
  serviceTrust,
  userDetail,
  userReportRow,
  type AuthorizationDetailsEntities,
} from './aws.ts';
import { iam, serveRegions } from './mock-aws.ts';

const entities: AuthorizationDetailsEntities = {
  users: [userDetail({ name: 'alice', attached: [ADMINISTRATOR_ACCESS] }), userDetail({ name: 'bob' })],
  groups: [],
  roles: [roleDetail({ name: 'DaxToDynamoDB', path: '/service-role/', trust: serviceTrust('dax.amazonaws.com') })],
  policies: [ADMINISTRATOR_ACCESS],
};
const report = credentialReportCsv([
  rootReportRow(),
  userReportRow({ name: 'alice', keys: [{ active: true, lastRotated: daysBefore(10) }] }),
  userReportRow({ name: 'bob', keys: [{ active: true, lastRotated: daysBefore(200) }] }),
]);

/** Serves the account on the mocked clients (call resetAws first); `region` holds the DAX cluster. */
export function serveSmallAccount(region = 'us-east-1'): void {
  iam.on(GetAccountSummaryCommand).resolves(accountSummaryResponse({ rootKeysPresent: 0 }));
  iam.on(GenerateCredentialReportCommand).resolves({ State: 'COMPLETE' });
  iam.on(GetCredentialReportCommand).resolves(credentialReportResponse(report));
  iam.on(GetAccountAuthorizationDetailsCommand).callsFake((input) => authorizationDetailsPage(entities, input));
  iam.on(ListAccessKeysCommand).callsFake((input: { UserName: string }) =>
    listAccessKeysResponse(input.UserName, [
      {
        id: `AKIA${input.UserName.toUpperCase().padEnd(16, '0')}`,
        active: true,
        createDate: daysBefore(input.UserName === 'bob' ? 200 : 10),
      },
    ]),
  );
  serveRegions({
    [region]: {
      cacheClusters: [],
      replicationGroups: [],
      daxClusters: [daxCluster({ name: 'orders', region, iamRoleArn: roleArn('DaxToDynamoDB', '/service-role/') })],
    },
  });
}
