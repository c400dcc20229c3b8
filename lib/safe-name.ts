// A name (a workload's, a file's on the guest) made safe as one path component on either side:
// letters, digits, '.', '_' and '-' stay, anything else becomes '_'.
export const safeFileName = (name: string): string => name.replace(/[^A-Za-z0-9_.-]/g, '_');
