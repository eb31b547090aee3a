// HTTP controllers (spec 2.5, 7.2, 8.1-8.3, 10.2): decorators, validation, exceptions, health.

export {
  Controller,
  Get,
  Post,
  Put,
  Patch,
  Delete,
  Head,
  Options,
  Param,
  Query,
  Body,
  Headers,
  Req,
  CurrentUser,
  UploadedFile,
  UploadedFiles,
  Validate,
  ValidateQuery,
  ValidateParams,
  RequireAuth,
  RequireRoles,
  RequirePermissions,
  AuditLog,
  Cached,
  ResponseStatus,
  HttpCode,
  Upload,
  Paginated,
  RateLimit,
  ApiTag,
  ApiOperation,
  type RouteRateLimit,
  type SchemaSource,
} from './decorators.js';
export * from './validation.js';
export {
  HttpException,
  BadRequestException,
  UnauthorizedException,
  ForbiddenException,
  NotFoundException,
  ConflictException,
  HttpResponse,
  type HttpExceptionOptions,
  type HttpResponseInit,
} from './exceptions.js';
export { HealthIndicator, HealthCheck, type HealthCheckResult } from './health.js';
export { SecurityModule, type SecurityOptions } from './security.js';
export type { HttpAppOptions } from './application.js';
export type { AuditRecord } from './host.js';
export type { HttpRequest, UploadedFileInfo } from './routes.js';
