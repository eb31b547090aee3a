export { DEFAULT_STORE, Queue, Worker, defaultStore } from './queue.js';
export type { JobAttemptError, Job, JobInfo, JobOptions, QueueCounts, QueueEventData, QueueEventName, QueueOptions, WorkerOptions } from './queue.js';
export { OnQueueEvent, ProcessMessage, QueueProcessor } from './decorators.js';
export type { ProcessorOptions } from './decorators.js';
export { Cron, Interval } from './schedule.js';
export type { ScheduleOptions } from './schedule.js';
