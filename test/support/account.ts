/** The account every test audits: the one the AWS documentation uses in its examples. */
export const ACCOUNT = '123456789012';
