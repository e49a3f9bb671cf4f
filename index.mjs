// ESM entry: `import NetbiosSession, { NetbiosName } from 'netbios-session'`.
import NetbiosSession from './index.js';

export default NetbiosSession;
export { NetbiosSession };
export const { NetbiosName, MAX_MESSAGE_LENGTH } = NetbiosSession;
