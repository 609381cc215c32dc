/**
 * The package's entry point (`import { Switchboard } from 'switchboard'`): the construct, the stack
 * that wraps it with outputs, their props, and the settings tables they are built from. The browser
 * client is the `switchboard/client` subpath. cdk-nag is not part of it: run it in your own app.
 */
export { Switchboard, WEBSOCKET_STAGE } from './switchboard-construct';
export type {
  ApiGatewayCloudWatchRole,
  FunctionOverrides,
  JwtSecretSource,
  SwitchboardProps,
  SwitchboardTableProps,
  SwitchboardTopicProps,
} from './switchboard-construct';
export { SwitchboardStack, type SwitchboardStackProps } from './switchboard-stack';
export { SwitchboardMonitoring, type SwitchboardMonitoringProps } from './monitoring';
export { SwitchboardPipeline, type PipelineStage, type SwitchboardPipelineProps } from './pipeline';
export { NODE_RUNTIME } from './functions';
export {
  DEFAULT_DELIVERY_LANES,
  DEFAULT_SHARD_SIZE,
  FUNCTION_SETTINGS,
  PIPELINE,
  PIPELINE_ENV,
  VISIBILITY_FACTOR,
  type QueueStage,
} from '../shared/pipeline';
export { FUNCTIONS, HTTP_ROUTES, WEBSOCKET_ROUTES, type FunctionName } from '../shared/routes';
