import type { Db } from './knex.js';
import { ServiceDetailsRepository } from './service-details.js';

/**
 * `service_details` for a replica among many (SPEC §4.5): every write first checks that this
 * process acts for the tenant right now (`assertActing` throws `NotLeaderError` otherwise), so a
 * sync that began as the holder writes nothing more once the lease is lost. Reads are untouched:
 * every replica serves `GET /service-details`.
 */
export class FencedServiceDetailsRepository extends ServiceDetailsRepository {
  constructor(
    db: Db,
    private readonly assertActing: (tenant: string) => void,
  ) {
    super(db);
  }

  override insertMany(...args: Parameters<ServiceDetailsRepository['insertMany']>): ReturnType<ServiceDetailsRepository['insertMany']> {
    this.assertActing(args[0]);
    return super.insertMany(...args);
  }

  override deleteByIds(...args: Parameters<ServiceDetailsRepository['deleteByIds']>): ReturnType<ServiceDetailsRepository['deleteByIds']> {
    this.assertActing(args[0]);
    return super.deleteByIds(...args);
  }

  override touch(...args: Parameters<ServiceDetailsRepository['touch']>): ReturnType<ServiceDetailsRepository['touch']> {
    this.assertActing(args[0]);
    return super.touch(...args);
  }
}
